"""A bundled demo site (twisted.web, 127.0.0.1 only) and a spider that crawls it."""
