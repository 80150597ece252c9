import os

from django.core.asgi import get_asgi_application

from vecsite.db.timeouts import limit_web_statements

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vecsite.settings")
application = get_asgi_application()
# Requests' statements are cancelled past VECSITE_DB_STATEMENT_TIMEOUT; commands' and tasks' are not.
limit_web_statements()
