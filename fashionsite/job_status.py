"""The life of a background job, one set of stored values for every app's job rows: embedding jobs
and training runs (embeddings, which add CANCELLED), a survey's opening and an offline evaluation
(surveys). Changing a value here changes stored rows: it needs a data migration in each app."""

from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
