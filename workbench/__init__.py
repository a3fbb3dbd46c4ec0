"""workbench: an interactive debugging and inspection workbench for Scrapy."""

__version__ = "0.1.0"
