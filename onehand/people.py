"""How people are named to others: one rule everywhere (pages, mails, feeds, API)."""


def display_name(user, *, nobody: str = "nobody") -> str:
    """Full name, else username; `nobody` when there is no one."""
    if user is None:
        return nobody
    return user.get_full_name() or user.get_username()


def display_name_of(first_name: str, last_name: str, username: str) -> str:
    """The same rule from plain columns, for lists too long to build users for."""
    return f"{first_name} {last_name}".strip() or username
