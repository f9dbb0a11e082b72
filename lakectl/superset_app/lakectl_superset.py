"""Superset's WSGI app as lakectl runs it: gunicorn's factory ``lakectl_superset:create()``.

Runs inside Superset's own virtualenv (lakectl is not importable there). Before it serves, the app
makes sure the admin user exists with the password of the stack's secrets, and imports the Gold
bundle (zipped by lakectl with this stack's Trino URI) with overwrite: re-running it updates the
database, datasets, charts and dashboard of the same UUIDs, never adds copies. A failure here
stops the worker, so gunicorn exits and ``lakectl up`` reports the log.
"""

from __future__ import annotations

import logging
import zipfile

log = logging.getLogger("lakectl_superset")


def create():
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        admin = ensure_admin(app.config["LAKECTL_ADMIN_USER"], app.config["LAKECTL_ADMIN_PASSWORD"])
        import_bundle(app.config["LAKECTL_BUNDLE"], admin)
    return app


def ensure_admin(username: str, password: str):
    from superset import security_manager
    from werkzeug.security import check_password_hash

    user = security_manager.find_user(username=username)
    if user is None:
        user = security_manager.add_user(username, "Superset", "Admin", f"{username}@lakectl.invalid",
                                         security_manager.find_role("Admin"), password=password)
        if not user:
            raise RuntimeError(f"lakectl: could not create the Superset user {username!r}")
        log.info("lakectl: created the Superset admin %r", username)
    elif not check_password_hash(user.password, password):
        security_manager.reset_password(user.id, password)
        log.info("lakectl: reset the password of %r to the stack's secret", username)
    return user


def import_bundle(path: str, user) -> None:
    from superset.commands.exceptions import CommandInvalidError
    from superset.commands.importers.v1.assets import ImportAssetsCommand
    from superset.commands.importers.v1.utils import get_contents_from_bundle
    from superset.utils.core import override_user

    with zipfile.ZipFile(path) as bundle:
        contents = get_contents_from_bundle(bundle)
    _tolerate_unreachable_database()
    with override_user(user):
        try:
            ImportAssetsCommand(contents).run()
        except CommandInvalidError as exc:  # say which file and field, not only "invalid"
            raise RuntimeError(f"lakectl: {path} is not a valid bundle: {exc.normalized_messages()}") from exc
    log.info("lakectl: imported %s (%d files)", path, len(contents))


def _tolerate_unreachable_database() -> None:
    """Importing a database asks it for its catalogs and schemas (to add their permissions), and a
    Trino that is not up yet fails the whole import. The admin needs none of those permissions and
    Superset adds them when the database is next saved, so an unreachable Trino is only a warning:
    Superset starts in parallel with Trino, and charts query it only when they are drawn."""
    from sqlalchemy.exc import DBAPIError
    from superset.commands.database.importers.v1 import utils
    from superset.db_engine_specs.exceptions import SupersetDBAPIError

    add_permissions = utils.add_permissions
    if getattr(add_permissions, "lakectl_tolerant", False):
        return

    def tolerant(database) -> None:
        try:
            add_permissions(database)
        except (DBAPIError, SupersetDBAPIError) as exc:
            log.warning("lakectl: %s not reachable, its catalog/schema permissions are left out: %s",
                        database.database_name, str(exc).splitlines()[0][:300])

    tolerant.lakectl_tolerant = True
    utils.add_permissions = tolerant
