# One image for web and workers (docker-compose.yml). torch comes with open_clip_torch from PyPI:
# its CUDA build runs on a GPU worker (NVIDIA container toolkit) and on the CPU alike.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY fashionsite ./fashionsite
COPY search ./search
COPY embeddings ./embeddings
COPY surveys ./surveys
RUN pip install .
COPY manage.py ./
RUN useradd --create-home --uid 1000 fashionsite && mkdir -p /data && chown fashionsite /data
USER fashionsite
EXPOSE 8000
