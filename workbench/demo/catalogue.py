"""The demo site's catalogue: every product computed from its id.

No catalogue is stored: :func:`product` derives a book's name, price, stock,
rating and description from its id with a deterministic hash (:func:`mix`),
so every process (the site, the tests) sees the same values, and a site with
20 000 products costs no more memory than one with 20.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

_ADJECTIVES = (
    "Silent", "Crimson", "Hidden", "Golden", "Broken", "Distant", "Wandering", "Quiet",
    "Burning", "Frozen", "Velvet", "Hollow", "Midnight", "Painted", "Restless", "Forgotten",
)  # fmt: skip
_NOUNS = (
    "Garden", "River", "Lantern", "Orchard", "Harbour", "Compass", "Library", "Meadow",
    "Cathedral", "Archive", "Voyage", "Kingdom", "Mirror", "Atlas", "Tide", "Clockwork",
)  # fmt: skip
_CATEGORIES = ("Fiction", "Travel", "History", "Poetry", "Science", "Mystery", "Fantasy")
RATINGS = ("One", "Two", "Three", "Four", "Five")
_OPENINGS = (
    "A sweeping tale of", "An intimate portrait of", "A brisk, funny account of",
    "A haunting meditation on", "A meticulous history of", "A lyrical journey through",
)  # fmt: skip
_SUBJECTS = (
    "two families divided by a river", "a lighthouse keeper's last winter",
    "the cartographers who mapped the north", "a city that forgets itself every night",
    "a botanist's stolen notebooks", "the clockmakers of a vanished guild",
)  # fmt: skip
_MASK = (1 << 64) - 1


def mix(n: int) -> int:
    """A deterministic 64-bit hash of ``n`` (splitmix64 finaliser)."""
    x = (n * 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


@dataclass(frozen=True, slots=True)
class ProductData:
    id: int
    name: str
    price: float  # pounds, two decimals
    stock: int  # 0 means out of stock
    rating: str  # "One".."Five"
    upc: str
    category: str
    description: str

    @property
    def price_text(self) -> str:
        return f"£{self.price:.2f}"

    @property
    def availability(self) -> str:
        return f"In stock ({self.stock} available)" if self.stock else "Out of stock"

    @property
    def url(self) -> str:
        return f"/product/{self.id}.html"


def product(pid: int) -> ProductData:
    """The product with id ``pid``: the same values every time, in every process."""
    h = mix(pid)
    name = f"The {_ADJECTIVES[h % 16]} {_NOUNS[(h >> 4) % 16]} No. {pid}"
    opening, subject = _OPENINGS[(h >> 24) % 6], _SUBJECTS[(h >> 28) % 6]
    return ProductData(
        id=pid,
        name=name,
        price=(500 + (h >> 8) % 5000) / 100,
        stock=(h >> 32) % 23,
        rating=RATINGS[(h >> 40) % 5],
        upc=f"{h:016x}",
        category=_CATEGORIES[(h >> 44) % 7],
        description=f"{opening} {subject}. {name} is book {pid} of the demo catalogue.",
    )


def page_count(pages: int, per_page: int) -> int:
    """How many catalogue (and API) pages list ``pages`` products."""
    return ceil(pages / per_page)
