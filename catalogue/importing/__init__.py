"""The catalogue import service: parse -> plan -> apply (the admin bulk upload, `import_catalog`,
and `manage.py up`'s sample catalogue).

    plan = plan_import(path)            # reads the zip or folder, writes nothing   (plan.py)
    result = apply_plan(plan)           # writes Products and media, idempotently  (apply.py)
    result = import_catalogue(path)     # both, re-planned against the catalogue as it is now

Accepted sources (sources.py): a .zip, or a folder laid out the same way (read in place, never
modified), holding the Kaggle layout (styles.csv and images/<id>.jpg) or a simple CSV (id, title,
attributes) with images named <id>.<jpg|jpeg|png|webp>. The CSV rules are in rows.py.

A zip is untrusted: every entry is checked before anything is read (fashionsite/uploads.py). Any
unsafe entry, a CSV with the wrong columns, not in UTF-8 or with more rows than
FASHIONSITE_MAX_IMPORT_ROWS refuses the whole file (`ImportRefused`, naming the file, entry or
line). Problems with one row reject that row only, with its line and reason.

The catalogue never queues embeddings: a created or changed product has a new revision, and the
embeddings app picks up products whose vectors are older than their revision.
"""

from catalogue.importing.apply import apply_plan, import_catalogue
from catalogue.importing.plan import ImportPlan, ImportResult, plan_import
from catalogue.importing.rows import is_catalog_id
from catalogue.importing.sources import ImageRefused, ImportRefused, check_image

__all__ = [
    "ImageRefused",
    "ImportPlan",
    "ImportRefused",
    "ImportResult",
    "apply_plan",
    "check_image",
    "import_catalogue",
    "is_catalog_id",
    "plan_import",
]
