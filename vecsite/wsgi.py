import os

from django.core.wsgi import get_wsgi_application

from vecsite.chunked import with_chunked_bodies
from vecsite.db.timeouts import limit_web_statements

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vecsite.settings")
application = with_chunked_bodies(get_wsgi_application())
# Requests' statements are cancelled past VECSITE_DB_STATEMENT_TIMEOUT; commands' and tasks' are not.
limit_web_statements()
