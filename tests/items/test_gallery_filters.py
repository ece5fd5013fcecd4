"""The gallery's two filters of the item listing: tags and a name's substring (both engines)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from moorage.context import AppContext
from moorage.items.filters import ItemFilters, Page
from moorage.items.service import item_service
from moorage.models import Team
from tests.helpers import REGISTER, make_storage

NAMES = ["Cat_01.jpg", "cat-02.jpg", "dog%03.jpg", "bird.jpg", "catalog.jpg"]


@pytest.fixture
def seeded(api: TestClient, dataset, bucket, put_file) -> dict:
    make_storage(api)
    put_file("a.jpg")
    items = [
        {"name": n, "storage_key": "a.jpg", "tags": ["pet"] if i < 3 else ["wild", "sky"]}
        for i, n in enumerate(NAMES)
    ]
    r = api.post(
        REGISTER, json={"items": items, "dataset_slug": "darwin-py", "storage_slug": "media"}
    )
    assert r.json()["blocked_items"] == [], r.text
    return dataset


def _names(ctx: AppContext, team_slug: str, filters: ItemFilters) -> list[str]:
    with ctx.db.session() as session:
        team = session.query(Team).filter_by(slug=team_slug).one()
        listing = item_service.list(session, team, filters=filters, page=Page(), base_url="")
    return [i["name"] for i in listing["items"]]


@pytest.mark.parametrize(
    ("contains", "expected"),
    [
        ("cat", ["Cat_01.jpg", "cat-02.jpg", "catalog.jpg"]),
        ("CAT_", ["Cat_01.jpg"]),  # case-insensitive; _ is the character, not any one
        ("%", ["dog%03.jpg"]),  # % is the character, not anything
        ("t%0", []),
        ("\\", []),
        (".jpg", NAMES),
    ],
)
def test_name_contains(ctx, team, seeded, contains: str, expected: list[str]) -> None:
    filters = ItemFilters(dataset_ids=[seeded["id"]], name_contains=contains)
    assert sorted(_names(ctx, "acme", filters)) == sorted(expected)


def test_tags_and_together_with_the_other_filters(ctx, team, seeded) -> None:
    by_tag = ItemFilters(dataset_ids=[seeded["id"]], tags=["pet"])
    assert sorted(_names(ctx, "acme", by_tag)) == sorted(NAMES[:3])
    either = ItemFilters(dataset_ids=[seeded["id"]], tags=["sky", "nope"])
    assert sorted(_names(ctx, "acme", either)) == ["bird.jpg", "catalog.jpg"]
    both = ItemFilters(dataset_ids=[seeded["id"]], tags=["wild"], name_contains="cat")
    assert _names(ctx, "acme", both) == ["catalog.jpg"]
    assert not both.is_empty() and not ItemFilters(name_contains="x").is_empty()


def test_another_teams_items_never_match(ctx, team, seeded) -> None:
    from tests.conftest import make_team

    make_team(ctx, "globex")
    filters = ItemFilters(dataset_ids=[seeded["id"]], name_contains="cat", tags=["pet"])
    assert _names(ctx, "globex", filters) == []
    assert _names(ctx, "globex", ItemFilters(name_contains="cat")) == []
