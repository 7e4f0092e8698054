from django.urls import path

from demoshop import views

urlpatterns = [
    path("", views.home),
    path("items/<int:item_id>/", views.item),
    path("search/", views.search),
    path("checkout/", views.checkout),
]
