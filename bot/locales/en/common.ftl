# Shared words. One file per feature; every key exists in every locale (tests/unit/test_i18n.py).
language-name = English
