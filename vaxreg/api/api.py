from ninja import NinjaAPI
from ninja.security import django_auth

api = NinjaAPI(title="VaxReg API", version="1", auth=django_auth, docs_url="/docs")
