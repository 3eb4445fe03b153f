"""Build recipes for the Lambda layers (no Docker): Python dependencies and Tippecanoe."""
