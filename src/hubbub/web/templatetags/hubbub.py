from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# Simple 24×24 stroke icons drawn for Hubbub (no third-party icon set).
_PATHS = {
    "inbox": "M3 13h5l2 3h4l2-3h5M5 5h14l2 8v6H3v-6z",
    "handoffs": "M4 8h14l-3-3M20 16H6l3 3",
    "listening": "M4 12a8 8 0 0 1 16 0M7.5 12a4.5 4.5 0 0 1 9 0M12 12v8",
    "knowledge": "M5 4h10a4 4 0 0 1 4 4v12H9a4 4 0 0 1-4-4zM9 9h6M9 13h6",
    "community": "M8 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM16 11a3 3 0 1 0 0-6M3 20c0-3 2.5-5 5-5s5 2 5 5M14 15c3 0 6 1.5 6 5",
    "contacts": "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 21c0-4 3.5-6 8-6s8 2 8 6",
    "insights": "M4 20V10M10 20V4M16 20v-7M22 20H2",
    "settings": "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM19 12l2-1-1-3-2 .3-1.5-1.5.3-2-3-1-1 2h-1.6l-1-2-3 1 .3 2L6 7.3 4 7l-1 3 2 1v1.6l-2 1 1 3 2-.3 1.5 1.5-.3 2 3 1 1-2h1.6l1 2 3-1-.3-2 1.5-1.5 2 .3 1-3-2-1z",
    "menu": "M4 7h16M4 12h16M4 17h16",
    "keyboard": "M3 7h18v10H3zM7 11h.01M11 11h.01M15 11h.01M8 14h8",
    "logout": "M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10",
    "arrow-up": "M12 19V5M6 11l6-6 6 6",
    "arrow-down": "M12 5v14M6 13l6 6 6-6",
}


@register.simple_tag
def icon(name: str, label: str = "") -> SafeString:
    path = _PATHS[name]
    aria = (
        format_html('role="img" aria-label="{}"', label)
        if label
        else mark_safe('aria-hidden="true"')
    )
    return format_html(
        '<svg class="icon" viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" '
        'stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" {}><path d="{}"/></svg>',
        aria,
        path,
    )
