"""Django's PostgreSQL backend, whose connection pool checks connections with
`fashionsite.dbpool.check_pooled_connection` (it drains the pool when PostgreSQL has restarted).

Django builds the pool itself and passes psycopg-pool's plain `check_connection` as the check when
CONN_HEALTH_CHECKS is on (a `check` in `OPTIONS["pool"]` would be passed twice), so the backend
swaps the check once, when the pool of its alias is created."""

from django.db.backends.postgresql import base

from fashionsite.dbpool import check_pooled_connection


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        created = self.alias not in self._connection_pools
        pool = super().pool
        if created and pool is not None:
            pool._check = check_pooled_connection
        return pool
