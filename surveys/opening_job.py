"""The row behind opening a survey in the background (app label "surveys", imported by
surveys/models.py; migration 0111_opening_job): its status and progress, read by the opening page."""

from django.db import models

from fashionsite.job_status import JobStatus


class OpeningJob(models.Model):
    """Opening a survey in the background: every (query, arm) cell's results are computed by a
    Celery task (surveys.tasks.open_survey_job) while the researcher watches a progress bar."""

    Status = JobStatus

    # Still under way: a second "Open" click gets this job back instead of a new one.
    ACTIVE = (Status.QUEUED, Status.RUNNING)

    survey = models.ForeignKey("surveys.Survey", on_delete=models.CASCADE, related_name="opening_jobs")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    cells_total = models.PositiveIntegerField(default=0)
    cells_done = models.PositiveIntegerField(default=0)
    confirm_identical = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    needs_confirmation = models.BooleanField(default=False, help_text="failed on identical arms")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"opening {self.survey_id}: {self.status} {self.cells_done}/{self.cells_total}"

    @property
    def active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def percent(self) -> int:
        return round(100 * self.cells_done / self.cells_total) if self.cells_total else 0
