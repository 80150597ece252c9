import os

from django.core.wsgi import get_wsgi_application

from vecsite.chunked import with_chunked_bodies

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vecsite.settings")
application = with_chunked_bodies(get_wsgi_application())
