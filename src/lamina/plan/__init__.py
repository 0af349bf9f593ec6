"""What a change does to every target: changed keys and flags a reviewer needs (lamina plan)."""
