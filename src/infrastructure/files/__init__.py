"""Files: the ``FileStore`` adapters (a local folder, S3-compatible object storage) and the avatar renderer."""
