"""Bodies and a source for the selector playground tests (core, Pilot, snapshots)."""

from __future__ import annotations

from tests.fakes import FakeSource
from workbench.core.recording.recorder import StoredBody

PRODUCT_PAGE = b"""<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <title>The Silent Garden | Demo books</title>
</head>
<body>
  <nav><a href="/">Home</a> &gt; <a href="/catalogue/page-1.html">Catalogue</a></nav>
  <article class="product" data-id="1">
    <h1>The Silent Garden</h1>
    <p class="price">Price: 12.50 EUR</p>
    <p class="stock">In stock (7 available)</p>
    <p class="rating Three">Rated 3 of 5</p>
    <p class="description">A quiet book \x1b]0;PWNED\x07 about gardens &amp; silence.</p>
    <ul class="related">
      <li><a href="/product/2.html">A Light in the Attic</a></li>
      <li><a href="/product/3.html">Tipping the Velvet</a></li>
      <li><a href="/product/4.html">Soumission</a></li>
    </ul>
  </article>
</body>
</html>
"""

API_PAGE = (
    b'{"page": 1, "next": "/api/products?page=2", "products": ['
    b'{"id": 1, "name": "The Silent Garden", "price": 12.5, "tags": ["quiet", "garden"]}, '
    b'{"id": 2, "name": "A Light in the Attic", "price": 51.77, "tags": []}, '
    b'{"id": 3, "name": "Tipping the Velvet", "price": null, "tags": ["novel"]}]}'
)


class PageSource(FakeSource):
    """FakeSource whose product pages are a real (small) product page.

    ``missing`` flow ids have no stored body (evicted)."""

    def __init__(self, *args, missing=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.missing = set(missing)

    def body(self, flow_id: int) -> StoredBody | None:
        flow = self.flow(flow_id)
        if flow is None or flow.status is None or flow_id in self.missing:
            return None
        if "/product/" in flow.url:
            return StoredBody(PRODUCT_PAGE, len(PRODUCT_PAGE), False)
        if "/api/" in flow.url:
            return StoredBody(API_PAGE, len(API_PAGE), False)
        return super().body(flow_id)
