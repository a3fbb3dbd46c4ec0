"""The demo site's page parts: the HTML frame, a product's article and its
JSON-LD, the home page's special links, and the logo (a PNG made here).

The routes that assemble them into pages are in :mod:`workbench.demo.site`.
"""

from __future__ import annotations

import json
import struct
import zlib
from html import escape

# the demo's own modules, relatively: the demo needs nothing else of workbench
from .catalogue import RATINGS, ProductData


def _png(width: int = 16, height: int = 16) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 16, y * 16, 160)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


LOGO_PNG = _png()

HOME_LINKS = (
    ("special redirect", "/old-catalogue", "The old catalogue (moved)"),
    ("special missing", "/missing.html", "A page that does not exist"),
    ("special flaky", "/flaky/1.html", "A flaky page (fails once)"),
    ("special slow", "/slow.html", "A slow page"),
    ("special legacy", "/legacy/1.html", "A legacy page (windows-1252)"),
    ("special asset", "/static/logo.png", "The logo"),
)


def html_page(title: str, body: str, head: str = "") -> bytes:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)} | Demo Books</title>\n{head}</head>\n<body>\n"
        '<header><a class="home" href="/">Demo Books</a></header>\n'
        f"<main>\n{body}\n</main>\n</body>\n</html>\n"
    ).encode()


def product_body(p: ProductData, note: str = "") -> str:
    name = escape(p.name)
    return f"""<article class="product_page" data-id="{p.id}">
<h1>{name}</h1>
{note}<p class="price">{p.price_text}</p>
<p class="availability">{p.availability}</p>
<p class="star-rating {p.rating}">{p.rating} stars</p>
<div id="product_description"><h2>Product Description</h2>
<p>{escape(p.description)}</p></div>
<table class="product-info">
<tr><th>UPC</th><td>{p.upc}</td></tr>
<tr><th>Product Type</th><td>Books</td></tr>
<tr><th>Category</th><td>{p.category}</td></tr>
<tr><th>Price</th><td>{p.price_text}</td></tr>
<tr><th>Availability</th><td>{p.availability}</td></tr>
<tr><th>Stock</th><td>{p.stock}</td></tr>
</table>
<p><a class="reviews" href="/reviews/{p.id}.html">Reviews</a></p>
</article>"""


def json_ld(p: ProductData) -> str:
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": p.name,
        "sku": p.upc,
        "url": p.url,
        "category": p.category,
        "description": p.description,
        "offers": {
            "@type": "Offer",
            "price": f"{p.price:.2f}",
            "priceCurrency": "GBP",
            "availability": "https://schema.org/" + ("InStock" if p.stock else "OutOfStock"),
            "inventoryLevel": p.stock,
        },
        "aggregateRating": {
            "@type": "AggregateRating",
            "ratingValue": RATINGS.index(p.rating) + 1,
            "bestRating": 5,
        },
    }
    text = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return f'<script type="application/ld+json">{text}</script>\n'
