"""A bundled demo site (twisted.web, 127.0.0.1 only) and a spider that crawls it:
the site's routes and server (site), its products computed from their ids
(catalogue), its page parts (pages), the demo spider (spider), and scrapy
bench's site on 127.0.0.1 (bench)."""
