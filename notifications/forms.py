from django import forms

from . import caldav_push


class CalendarConnectionForm(forms.Form):
    url = forms.URLField(
        label="Calendar address (CalDAV URL)",
        max_length=500,
        assume_scheme="https",
        help_text="The address of one calendar, e.g. https://caldav.example.com/alice/oncall/",
    )
    username = forms.CharField(max_length=200)
    password = forms.CharField(
        label="App password",
        widget=forms.PasswordInput(render_value=False),
        strip=False,
        help_text="Use an app-specific password. It is stored encrypted and never shown again.",
    )

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            caldav_push.check_url(url)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return url
