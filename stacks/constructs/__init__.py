"""One construct per capability; the stacks in ``stacks/`` only wire these together."""
