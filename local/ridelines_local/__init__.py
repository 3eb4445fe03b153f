"""What runs only on a laptop: the command line, the local stack and the stand-in intervals.icu.

Never shipped to Lambda: the function assets are built from ``lambdas/`` alone.
"""
