"""The team's on-call pay: a page per month, a CSV for payroll, and the rates form."""

import csv
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from onehand.dates import next_month, parse_month, parse_month_or_none, previous_month
from onehand.errors import Invalid
from onehand.spreadsheet import csv_safe
from rotation import selectors

from . import pay

CSV_COLUMNS = [
    "person",
    "month",
    "weekday_hours",
    "weekend_hours",
    "holiday_hours",
    "incidents",
    "amount",
    "currency",
    "provisional",
]


def _team_for(user, slug):
    team = selectors.teams_for(user=user).filter(slug=slug).first()
    if team is None:
        raise Http404("No such team, or you are not in it.")
    return team


def _rate(raw, field) -> Decimal:
    try:
        return Decimal((raw or "0").strip() or "0")
    except (InvalidOperation, AttributeError):
        raise Invalid("A rate is a number such as 12.50.", field=field) from None


@login_required
def pay_page(request, slug):
    team = _team_for(request.user, slug)
    if request.method == "POST":
        data = request.POST
        pay.set_pay_rates(
            team=team,
            by=request.user,
            currency=data.get("currency", ""),
            weekday_hour=_rate(data.get("weekday_hour"), "weekday_hour"),
            weekend_hour=_rate(data.get("weekend_hour"), "weekend_hour"),
            holiday_hour=_rate(data.get("holiday_hour"), "holiday_hour"),
            per_incident=_rate(data.get("per_incident"), "per_incident"),
            pay_shadow=data.get("pay_shadow") == "on",
        )
        messages.success(request, "Pay rates saved.")
        return redirect(f"{request.path}?month={data.get('month', '')}")
    now = timezone.now()
    month = parse_month(request.GET.get("month"), now.date())
    if request.GET.get("format") == "csv":
        first = parse_month_or_none(request.GET.get("from")) or month
        last = parse_month_or_none(request.GET.get("to")) or first
        lines = pay.pay_report(
            team=team, viewer=request.user, first_month=first, last_month=last, now=now
        )
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="{team.slug}-pay-{first:%Y-%m}-{last:%Y-%m}.csv"'
        )
        writer = csv.writer(response)
        writer.writerow(CSV_COLUMNS)
        for line in lines:
            writer.writerow(
                [
                    csv_safe(line.name),
                    f"{line.month:%Y-%m}",
                    line.weekday_hours,
                    line.weekend_hours,
                    line.holiday_hours,
                    line.incidents,
                    line.amount,
                    line.currency,
                    "yes" if line.provisional else "no",
                ]
            )
        return response
    lines = pay.pay_report(
        team=team, viewer=request.user, first_month=month, last_month=month, now=now
    )
    return render(
        request,
        "planning/pay.html",
        {
            "team": team,
            "month": month,
            "previous": previous_month(month),
            "following": next_month(month),
            "lines": lines,
            "total": sum((line.amount for line in lines), Decimal("0")),
            "rates": pay.rates_for(team=team),
            "is_manager": selectors.is_manager(user=request.user, team_id=team.pk),
        },
    )
