import datetime

from django.db import migrations

from fast_count_django.operations import FastCountRegister


def tickets_opened_in_2024(apps):
    # The historical model, as with RunPython.
    Ticket = apps.get_model("library", "Ticket")
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    return [(Ticket.objects.filter(opened_at__gte=start, opened_at__lt=start.replace(year=2025)),
             datetime.timedelta(seconds=1))]


class Migration(migrations.Migration):
    dependencies = [("library", "0001_initial")]

    operations = [
        # What Ticket.fast_count_querysets() lists.
        FastCountRegister("library.Ticket"),
        FastCountRegister(tickets_opened_in_2024),
    ]
