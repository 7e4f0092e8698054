from django.urls import path

from djshop import views

urlpatterns = [
    path("", views.index),
    path("items/<int:item_id>/", views.item_detail),
    path("boom/", views.boom),
    path("slow/", views.slow),
    path("call/", views.call_out),
    path("raw-sql/", views.raw_sql),
    path("ping/", views.PingView.as_view()),
    path("pid/", views.pid),
]
