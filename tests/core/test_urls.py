"""core.urls: a key written inside a URL is never shown."""

import pytest

from core.urls import has_password, redact_url, url_problem


@pytest.mark.parametrize(
    "text, shown",
    [
        ("http://user:KEY@host:8000/v1", "http://***@host:8000/v1"),
        ("https://KEY@host/v1", "https://***@host/v1"),
        ("http://a:KEY@h1/v1,http://b:KEY@h2/v1", "http://***@h1/v1,http://***@h2/v1"),
        ("Cannot reach the LLM server at http://u:KEY@h/v1 (ConnectError).", "http://***@h/v1 (ConnectError)."),
        ("http://h/v1?api_key=KEY&x=1", "http://h/v1?api_key=***&x=1"),
        ("http://host:8000/v1", "http://host:8000/v1"),
    ],
)
def test_redact_url_hides_every_credential(text, shown):
    assert "KEY" not in redact_url(text)
    assert shown in redact_url(text)


def test_has_password_and_url_problem():
    assert has_password("http://u:KEY@h/v1") and has_password("http://h/v1?token=KEY")
    assert not has_password("http://user@h/v1") and not has_password("http://h:8000/v1")
    assert url_problem("http://localhost:8000/v1") is None
    for bad in ("http://[::1", "", "ftp://h", "http://", "http://h:99999", "http://h /v1"):
        assert url_problem(bad) is not None, bad
