import json
import os
import sqlite3
import time
import urllib.request

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import View

from djshop.models import Item


def index(request):
    return HttpResponse("ok")


def item_detail(request, item_id):
    item = Item.objects.get(pk=item_id)
    others = list(Item.objects.exclude(pk=item_id).filter(name__startswith="it")[:5])
    Item.objects.filter(price__gt=100).count()
    return render(request, "djshop/item.html", {"item": item, "others": others})


def boom(request):
    raise ValueError("boom: secret=%s" % "hunter2")


def slow(request):
    time.sleep(float(request.GET.get("s", "0.3")))
    Item.objects.count()
    return HttpResponse("slow")


def call_out(request):
    import httpx
    import requests

    base = os.environ["DOWNSTREAM"]
    requests.get(base + "/downstream?via=requests&token=abc")
    httpx.get(base + "/downstream?via=httpx")
    with urllib.request.urlopen(base + "/downstream?via=urllib") as resp:
        resp.read()
    return HttpResponse("called")


def raw_sql(request):
    conn = sqlite3.connect(":memory:")
    try:
        conn.cursor().execute("SELECT 1")
    finally:
        conn.close()
    return HttpResponse("queried")


class PingView(View):
    def get(self, request):
        return JsonResponse({"pid": os.getpid()})


def pid(request):
    return HttpResponse(json.dumps({"pid": os.getpid()}), content_type="application/json")
