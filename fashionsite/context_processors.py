from django.conf import settings


def site(request):
    """Values every page template needs (the random-weights banner reads `embedding_notice`)."""
    from embeddings.selectors import active_space_notice

    return {"embedding_notice": active_space_notice(), "site_debug": settings.DEBUG}
