"""The upload handler for catalogue zips: streamed to a temp file on disk, refused past a size limit.

Django's TemporaryFileUploadHandler already writes each 64 KiB chunk straight to disk, so the
request never holds the zip in memory. This subclass also counts the bytes as they arrive and
stops the upload as soon as FASHIONSITE_MAX_UPLOAD_BYTES is passed: the partial temp file is
deleted by Django (`_close_files`), the rest of the body is drained, and the view reads
`limit_exceeded` to tell the admin why.
"""

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler


class SizeLimitedUploadHandler(TemporaryFileUploadHandler):
    def __init__(self, request=None, max_bytes: int | None = None):
        super().__init__(request)
        self.max_bytes = max_bytes if max_bytes is not None else settings.FASHIONSITE_MAX_UPLOAD_BYTES
        self.limit_exceeded = False
        self.received = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        # A body announced as larger than the limit (plus room for the form fields) is refused
        # before a single byte is written.
        if content_length and content_length > self.max_bytes + 64 * 1024:
            self.limit_exceeded = True
        return None

    def new_file(self, *args, **kwargs):
        if self.limit_exceeded:
            raise StopUpload(connection_reset=False)
        return super().new_file(*args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            self.limit_exceeded = True
            raise StopUpload(connection_reset=False)
        return super().receive_data_chunk(raw_data, start)
