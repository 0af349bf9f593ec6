"""Every request keeps the plan of its move (keys, values, prompt diffs, flags) and the commit
its config hashes were computed at; an apply records whether ``--force`` shipped it, and why.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("promotions") as batch:
        batch.add_column(sa.Column("plan", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("head", sa.String(length=64), nullable=True))
    with op.batch_alter_table("applies") as batch:
        batch.add_column(sa.Column("forced", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("applies") as batch:
        batch.drop_column("reason")
        batch.drop_column("forced")
    with op.batch_alter_table("promotions") as batch:
        batch.drop_column("head")
        batch.drop_column("plan")
