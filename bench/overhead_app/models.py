from django.db import models


class Category(models.Model):
    name = models.CharField(max_length=100)

    class Meta:
        app_label = "overhead_app"


class Item(models.Model):
    name = models.CharField(max_length=100)
    price = models.IntegerField()
    stock = models.IntegerField(default=0)
    category = models.ForeignKey(Category, on_delete=models.CASCADE)

    class Meta:
        app_label = "overhead_app"


class StockMove(models.Model):
    item = models.ForeignKey(Item, on_delete=models.CASCADE)
    delta = models.IntegerField()

    class Meta:
        app_label = "overhead_app"
