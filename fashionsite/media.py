"""Uploaded media served by the app itself (SERVE_MEDIA on: `manage.py up`, one machine).

Only images are stored (fashionsite/uploads.py names every file by its decoded format), and they are
served as what they are: the type from the stored suffix, `X-Content-Type-Options: nosniff` (a
browser never sniffs a script out of a JPEG comment), `Content-Disposition: inline` for images and
`attachment` (as application/octet-stream) for anything else, and a sandboxing
Content-Security-Policy, so even a file opened directly runs no script with the site's origin.
Deployed, media come from a separate origin or object storage (docs/deployment.md).
"""

from django.conf import settings
from django.views.static import serve

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})


def serve_media(request, path: str):
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    if response.status_code != 200:
        return response
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    if content_type in IMAGE_TYPES:
        response.headers["Content-Disposition"] = "inline"
    else:
        response.headers["Content-Type"] = "application/octet-stream"
        response.headers["Content-Disposition"] = "attachment"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return response
