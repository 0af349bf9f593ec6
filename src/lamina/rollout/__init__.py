"""Progressive delivery: an environment moved step by step, each step judged by metrics."""
