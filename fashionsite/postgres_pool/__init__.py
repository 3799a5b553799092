"""Django's PostgreSQL backend with the pool check of fashionsite/dbpool.py (ENGINE when DB_POOL_SIZE > 0)."""
