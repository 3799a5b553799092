"""Size-limited uploads (catalogue zips, survey query images and CSVs): streamed to a temp file on
disk, refused past a size limit.

Django's TemporaryFileUploadHandler already writes each 64 KiB chunk straight to disk, so the
request never holds the zip in memory. This subclass also counts the bytes as they arrive and
stops the upload as soon as FASHIONSITE_MAX_UPLOAD_BYTES is passed: the partial temp file is
deleted by Django (`_close_files`), the rest of the body is drained, and the view reads
`limit_exceeded` to tell the admin why.
"""

from functools import wraps

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.views.decorators.csrf import csrf_exempt, csrf_protect


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


def limited_upload(max_bytes_setting: str):
    """A view decorator: stream file uploads to disk and stop them past `settings.<max_bytes_setting>`.

    The handler must be installed before anything reads request.POST, which CsrfViewMiddleware
    would do, so CSRF is checked inside instead. The view reads `request.upload_limit_exceeded()`.
    """

    def decorator(view):
        protected = csrf_protect(view)

        @csrf_exempt
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            handler = SizeLimitedUploadHandler(request, max_bytes=getattr(settings, max_bytes_setting))
            request.upload_handlers = [handler]
            request.upload_limit_exceeded = lambda: handler.limit_exceeded
            return protected(request, *args, **kwargs)

        return wrapped

    return decorator
