"""Settings package: base, dev, test, prod. DJANGO_SETTINGS_MODULE picks one (dev by default)."""
