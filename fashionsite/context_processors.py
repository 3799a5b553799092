from django.conf import settings
from django.utils.functional import SimpleLazyObject

from fashionsite.permissions import navigation


def site(request):
    """Values every page template needs (the random-weights banner reads `embedding_notice`; the
    header shows only `nav_items`, the pages this user may open; asked only by a page that shows the
    site header: a participant's pages have their own, and finding the user reads the session)."""
    from embeddings.selectors import active_space_notice

    user = getattr(request, "user", None)
    return {
        # Asked only when a page shows the site-wide banner: a survey task page brings its own
        # (the space its results came from), which saves a query on the busiest page.
        "embedding_notice": SimpleLazyObject(active_space_notice),
        "site_debug": settings.DEBUG,
        "nav_items": SimpleLazyObject(lambda: navigation(user)),
    }
