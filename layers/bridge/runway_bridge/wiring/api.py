"""The API function: submits, tasks (get, list, cancel, uploads), usage, and the webhook admin
routes (secret, rotate, test, redeliver, redrive, stable output links), and the console's pages."""

from __future__ import annotations

from dataclasses import dataclass

from runway_bridge.adapters.console_files import PackagedConsoleFiles
from runway_bridge.logic.console import ConsoleService
from runway_bridge.logic.notifications.admin import WebhookAdmin
from runway_bridge.logic.submission.service import SubmissionService
from runway_bridge.logic.tasks.service import TaskService
from runway_bridge.logic.tenants.usage import UsageService
from runway_bridge.settings import BridgeSettings
from runway_bridge.wiring import parts
from runway_bridge.wiring.cache import SettingsKeyedCache, utc_now
from runway_bridge.wiring.notifications import api_links, build_webhook_admin


@dataclass(frozen=True)
class ApiServices:
    submission: SubmissionService
    tasks: TaskService
    usage: UsageService
    webhooks: WebhookAdmin
    console: ConsoleService


def build_api_services(settings: BridgeSettings) -> ApiServices:
    jobs = parts.jobs_store(settings)
    state = parts.poller_state(settings)
    runway = parts.runway_factory(settings)
    objects = parts.object_store(settings)
    return ApiServices(
        submission=parts.submission_service(
            settings, jobs=jobs, state=state, runway=runway, starter=parts.poller_starter(settings, state)
        ),
        tasks=TaskService(
            jobs=jobs,
            objects=objects,
            runway_factory=runway,
            settings=settings,
            clock=utc_now,
            links=api_links(settings),
        ),
        usage=UsageService(jobs=jobs, tenants=parts.key_store(settings), clock=utc_now),
        webhooks=build_webhook_admin(settings),
        console=ConsoleService(PackagedConsoleFiles(), media_sources=settings.console_media_sources),
    )


get_api_services = SettingsKeyedCache(build_api_services)
