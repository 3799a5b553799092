from django.conf import settings

from fashionsite.permissions import navigation


def site(request):
    """Values every page template needs (the random-weights banner reads `embedding_notice`; the
    header shows only `nav_items`, the pages this user may open)."""
    from embeddings.selectors import active_space_notice

    user = getattr(request, "user", None)
    return {
        "embedding_notice": active_space_notice(),
        "site_debug": settings.DEBUG,
        "nav_items": navigation(user),
    }
