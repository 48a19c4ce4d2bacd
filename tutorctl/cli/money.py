"""tutorctl account …, purchase …"""

from __future__ import annotations

from typing import Annotated

import typer

from tutorctl.cli import complete
from tutorctl.cli.booking import CategoryOpt, StudentOpt, TeacherOpt
from tutorctl.cli.state import Json, emit, id_argument, read, write
from tutorctl.core.money import parse_amount, parse_hours
from tutorctl.core.status import PaymentMethod

accounts = typer.Typer(
    help="Student accounts: show (the balance), credit, debit, history (the ledger).",
    no_args_is_help=True,
)
purchases = typer.Typer(help="Packages of prepaid hours.", no_args_is_help=True)

StudentArg = Annotated[
    str, typer.Argument(help="Student handle or id.", autocompletion=complete.students)
]


@accounts.command("credit")
def account_credit(
    student: StudentArg,
    amount: Annotated[str, typer.Argument(help="A decimal such as 100.00.")],
    reason: Annotated[str | None, typer.Option(help="Why (kept in the ledger).")] = None,
    json: Json = False,
) -> None:
    """Top up a student's balance."""
    from tutorctl.core.limits import check_text
    from tutorctl.services import accounts

    cents = parse_amount(amount)
    reason = check_text(reason, "--reason") if reason is not None else None
    emit(write("account credit", lambda tx: accounts.credit(tx, student, cents, reason)), json)


@accounts.command("debit")
def account_debit(
    student: StudentArg,
    amount: Annotated[str, typer.Argument(help="A decimal such as 25.00.")],
    reason: Annotated[
        str, typer.Option(help="Why the money goes out (a refund to the family, a correction).")
    ],
    json: Json = False,
) -> None:
    """Pay money out of a student's balance: never below zero, never reserved money."""
    from tutorctl.core.limits import check_text
    from tutorctl.services import accounts

    cents = parse_amount(amount)
    why = check_text(reason, "--reason")
    emit(write("account debit", lambda tx: accounts.debit(tx, student, cents, why)), json)


@accounts.command("show")
def account_show(student: StudentArg, json: Json = False) -> None:
    """Balance and packages with hours left."""
    from tutorctl.services import accounts

    emit(read(lambda tx: accounts.show_account(tx, student)), json)


@accounts.command("history")
def account_history(student: StudentArg, json: Json = False) -> None:
    """Every ledger entry of the account."""
    from tutorctl.services import accounts

    emit(read(lambda tx: accounts.account_history(tx, student)), json)


@purchases.command("add")
def purchase_add(
    student: StudentOpt,
    teacher: TeacherOpt,
    category: CategoryOpt,
    hours: Annotated[str, typer.Option(help="Hours bought, e.g. 10 or 7.5.")],
    price: Annotated[str, typer.Option(help="Price of the package, e.g. 380.00.")],
    paid_hours: Annotated[
        str | None, typer.Option(help="Hours paid; the rest is owed (default: all).")
    ] = None,
    method: Annotated[
        PaymentMethod,
        typer.Option(help="How the paid hours were paid: card, wechat, cash, transfer."),
    ] = PaymentMethod.CASH,
    reference: Annotated[str | None, typer.Option(help="The payment's reference.")] = None,
    json: Json = False,
) -> None:
    """Record a package of hours bought by a student for one teacher and category, and the
    payment of its paid hours."""
    from tutorctl.core.limits import check_text
    from tutorctl.services import packages

    bought = parse_hours(hours)
    paid = parse_hours(paid_hours, "paid hours") if paid_hours is not None else None
    cents = parse_amount(price, allow_zero=True, what="price")
    ref = check_text(reference, "--reference") if reference is not None else None
    emit(
        write(
            "purchase add",
            lambda tx: packages.add_purchase(
                tx,
                student,
                teacher,
                category,
                bought,
                cents,
                paid,
                method=method,
                reference=ref,
            ),
        ),
        json,
    )


@purchases.command("settle")
def purchase_settle(
    purchase: Annotated[int, id_argument("PURCHASE", "The package's id.")],
    method: Annotated[PaymentMethod, typer.Option(help="card, wechat, cash or transfer.")],
    hours: Annotated[
        str | None, typer.Option(help="Owed hours paid now (default: all owed hours).")
    ] = None,
    reference: Annotated[str | None, typer.Option(help="The payment's reference.")] = None,
    json: Json = False,
) -> None:
    """Record a later payment of a package's owed hours (pro rata of its price, to the cent)."""
    from tutorctl.core.limits import check_text
    from tutorctl.services import packages

    minutes = parse_hours(hours) if hours is not None else None
    ref = check_text(reference, "--reference") if reference is not None else None
    emit(
        write(
            "purchase settle",
            lambda tx: packages.settle_purchase(tx, purchase, minutes, method, ref),
        ),
        json,
    )


@purchases.command("list")
def purchase_list(
    student: Annotated[
        str | None,
        typer.Option(help="Only this student's packages.", autocompletion=complete.students),
    ] = None,
    json: Json = False,
) -> None:
    """List packages with hours bought, consumed and remaining."""
    from tutorctl.services import packages

    emit(read(lambda tx: packages.list_purchases(tx, student)), json)
