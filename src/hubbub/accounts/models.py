from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower

from hubbub.core.models import Workspace


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    LEAD = "lead", "Team lead"
    AGENT = "agent", "Agent"
    DEPARTMENT = "department", "Department member"
    READONLY = "readonly", "Read-only"

    @property
    def sees_every_team(self) -> bool:
        """Agents and department members see their own teams; the rest see all."""
        return self in {Role.ADMIN, Role.LEAD, Role.READONLY}


class Status(models.TextChoices):
    ONLINE = "online", "Online"
    AWAY = "away", "Away"
    OFFLINE = "offline", "Offline"


class TeamKind(models.TextChoices):
    TEAM = "team", "Care team"
    DEPARTMENT = "department", "Department"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in. Belongs to exactly one workspace."""

    email = models.EmailField(unique=True)
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="users", null=True, blank=True
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.AGENT)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(auto_now_add=True)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    @property
    def role_enum(self) -> Role:
        return Role(self.role)


class AgentProfile(models.Model):
    """The personal identity an agent answers customers with."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="profile")
    display_name = models.CharField(max_length=80)
    avatar = models.CharField(max_length=120, blank=True)  # storage name of the re-encoded image
    signature = models.TextField(max_length=500, blank=True)
    sender_address = models.EmailField(blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    languages = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OFFLINE)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # New agents' public replies wait in a lead's approval queue before they go out.
    needs_approval = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.display_name

    @property
    def initials(self) -> str:
        parts = [part for part in self.display_name.split() if part]
        return "".join(part[0] for part in parts[:2]).upper() or "?"


class Team(models.Model):
    """A care team or another department that receives handoffs."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=12, choices=TeamKind.choices, default=TeamKind.TEAM)
    description = models.CharField(max_length=240, blank=True)
    members = models.ManyToManyField(User, related_name="teams", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-kind", "name"]  # care teams before departments
        constraints = [
            models.UniqueConstraint(
                "workspace", Lower("name"), name="team_name_unique_in_workspace"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Invitation(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.AGENT)
    teams = models.ManyToManyField(Team, blank=True, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation for {self.email}"


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 is stored; the token is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
