"""What `make run` and `manage.py up` tell a newcomer (#16, item 17)."""

import io
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from catalogue.importing.plan import ImportResult
from fashionsite.management.commands.up import Command, import_summary

REPO = Path(__file__).resolve().parents[2]
SPACE = SimpleNamespace(name="tiny", model_name="fashionsite-tiny", random_weights=True, pretrained="none")


def banner() -> str:
    command = Command(stdout=io.StringIO())
    command._say_where_to_go("127.0.0.1", 8000, Path("/tmp/logs"), SPACE)
    return command.stdout.getvalue()


@pytest.mark.django_db
def test_the_banner_offers_createsuperuser_only_while_there_is_no_user(django_user_model):
    assert "createsuperuser" in banner() and "/accounts/login/" in banner()
    django_user_model.objects.create_user("someone", password="pw-someone-1")
    assert "createsuperuser" not in banner()


def test_the_sample_import_summary_counts_products_without_an_image():
    result = ImportResult(created=300)
    assert import_summary(result, without_image=0).endswith("300 products created, 0 updated, 0 unchanged")
    assert "; 7 products without an image" in import_summary(result, without_image=7)
    assert "; 1 product without an image" in import_summary(result, without_image=1)


def test_the_install_step_says_what_it_does_and_how_long_it_takes():
    out = subprocess.run(
        ["make", "--dry-run", "--always-make", "install"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Installing fashionsite and its dependencies" in out and "about 5 minutes" in out


def test_the_already_running_message_names_the_port_variable():
    source = (REPO / "fashionsite/management/commands/up.py").read_text()
    message = source.split("is already running on the data directory")[1].split(") from None")[0]
    assert "FASHIONSITE_PORT" in message
