"""The worker portal: task UI templates rendered as A2I renders them, crowd elements, and the pages workers use."""
