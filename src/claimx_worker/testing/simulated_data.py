"""The data the ClaimX API simulator serves: a pure function of ``(seed, id)``.

Any numeric project id exists; a project has a few media (every third without a download link)
and one or two video collaborations; any numeric assignment id exists, belongs to project
``assignment_id // 1000`` (at least 1) and uses the task template
``task_template_ids[assignment_id % len(task_template_ids)]`` (by default 456, 789, 123).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

DEFAULT_TASK_TEMPLATE_IDS = (456, 789, 123)
"""The task templates assignments use unless the simulator is told others."""

_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


class SimulatedData:
    """Deterministic generated ClaimX data, as the simulator serves it (before shaping)."""

    def __init__(self, seed: int) -> None:
        self._seed = seed

    def _rng(self, kind: str, key: object) -> random.Random:
        return random.Random(f"{self._seed}:{kind}:{key}")

    @staticmethod
    def _date(rng: random.Random, days: int = 400) -> str:
        moment = _EPOCH + timedelta(days=rng.randrange(days), seconds=rng.randrange(86_400))
        return moment.isoformat().replace("+00:00", "Z")

    @staticmethod
    def _date_after(rng: random.Random, start: str, days: int) -> str:
        """A time up to ``days`` days after the ISO time ``start`` (strictly after it)."""
        moment = datetime.fromisoformat(start) + timedelta(
            days=rng.randrange(days), seconds=rng.randrange(1, 86_400)
        )
        return moment.isoformat().replace("+00:00", "Z")

    def project(self, project_id: int) -> dict[str, Any]:
        """The export of a project: ``{"project": ..., "teamMembers": ..., "companyName": ...}``."""
        rng = self._rng("project", project_id)
        first, last = rng.choice(["Ada", "Ben", "Cleo", "Dev"]), rng.choice(["Ng", "Ortiz", "Park"])
        return {
            "project": {
                "projectId": project_id,
                "projectNumber": f"CLM-{project_id}",
                "mfn": f"MFN-{project_id}",
                "secondaryNumber": f"SEC-{rng.randrange(10_000)}",
                "createdDate": self._date(rng),
                "status": rng.choice(["OPEN", "IN_PROGRESS", "CLOSED"]),
                "dateOfLoss": self._date(rng),
                "typeOfLoss": rng.choice(["WATER", "FIRE", "WIND", "HAIL"]),
                "causeOfLoss": rng.choice(["PIPE_BURST", "STORM", "ELECTRICAL"]),
                "lossDescription": f"Loss at project {project_id}",
                "yearBuilt": rng.randrange(1950, 2020),
                "squareFootage": float(rng.randrange(800, 4000)),
                "dateReceived": self._date(rng),
                "dateContacted": self._date(rng),
                "plannedInspectionDate": self._date(rng),
                "dateInspected": self._date(rng),
                "appointmentDate": self._date(rng),
                "customAttribute1": f"attr1-{project_id}",
                "customAttribute2": f"attr2-{project_id}",
                "customAttribute3": None,
                "customExternalUniqueId": f"ext-{project_id}",
                "customerInformation": {
                    "firstName": first,
                    "lastName": last,
                    "customBusinessName": None,
                    "businessLineType": rng.choice(["PERSONAL", "COMMERCIAL"]),
                    "emails": [
                        {"emailAddress": f"other.{project_id}@example.com", "primary": False},
                        {
                            "emailAddress": f"{first}.{last}.{project_id}@example.com".lower(),
                            "primary": True,
                        },
                    ],
                    "phones": [
                        {"phoneNumber": f"555{rng.randrange(10**7):07d}", "phoneCountryCode": "1"}
                    ],
                },
                "address": {
                    "street1": f"{rng.randrange(1, 999)} Main St",
                    "street2": None,
                    "city": rng.choice(["Springfield", "Riverton", "Lakeside"]),
                    "stateProvince": rng.choice(["NJ", "TX", "CA"]),
                    "zipPostcode": f"{rng.randrange(10_000, 99_999)}",
                    "county": "Central",
                    "country": "US",
                },
            },
            "teamMembers": [
                {
                    "userName": f"rep{n}.{project_id}@insurer.example",
                    "primaryContact": n == 1,
                    "mfn": f"MFN-{project_id}",
                }
                for n in range(1, rng.randrange(2, 4))
            ],
            "companyName": "Example Insurance Co",
        }

    def media(self, project_id: int, base_url: str) -> list[dict[str, Any]]:
        """The media of a project; every third has no download link."""
        rng = self._rng("media", project_id)
        items = []
        for index in range(rng.randrange(3, 7)):
            media_id = project_id * 1000 + index
            item: dict[str, Any] = {
                "mediaID": media_id,
                "taskAssignmentId": project_id * 1000 + rng.randrange(1000),
                "mediaType": rng.choice(["jpg", "png", "mp4", "pdf"]),
                "mediaName": f"photo_{media_id}.jpg",
                "mediaDescription": f"Media {media_id}",
                "mediaComment": rng.choice([None, "front door", "kitchen"]),
                "latitude": round(rng.uniform(25, 48), 6),
                "longitude": round(rng.uniform(-124, -67), 6),
                "gpsSource": rng.choice(["DEVICE", "EXIF"]),
                "takenDate": self._date(rng),
            }
            if index % 3 != 2:
                item["fullDownloadLink"] = f"{base_url}/download/{media_id}?signature=sim"
                item["expiresAt"] = self._date(rng, 30)
            items.append(item)
        return items

    def assignment(self, assignment_id: int, template_ids: tuple[int, ...]) -> dict[str, Any]:
        """A custom task assignment with its template and external link (``full=true``)."""
        rng = self._rng("assignment", assignment_id)
        task_id = template_ids[assignment_id % len(template_ids)]
        project_id = max(assignment_id // 1000, 1)
        completed = rng.random() < 0.5
        assignee_id, assignor_id = rng.randrange(1, 10_000), rng.randrange(1, 10_000)
        assignor = f"assignor{rng.randrange(100)}@insurer.example"
        assigned = self._date(rng)
        return {
            "assignmentId": assignment_id,
            "taskId": task_id,
            "taskName": f"Task template {task_id}",
            "formId": f"form-{task_id}",
            "projectId": project_id,
            "assigneeId": assignee_id,
            "assignorId": assignor_id,
            "assignor": assignor,
            "dateAssigned": assigned,
            # completed within two weeks of the assignment; the API has no due date
            "dateCompleted": self._date_after(rng, assigned, 14) if completed else None,
            "cancelledDate": None,
            "status": "COMPLETED" if completed else "ASSIGNED",
            "pdfProjectMediaId": project_id * 1000 if completed else None,
            "formResponseId": f"resp-{assignment_id}" if completed else None,
            "stpEnabled": rng.random() < 0.5,
            "mfn": f"MFN-{project_id}",
            "url": f"https://claimx.example/task/{assignment_id}",
            "customTask": {
                "taskId": task_id,
                "compId": 42,
                "name": f"Task template {task_id}",
                "description": f"Template {task_id}",
                "formId": f"form-{task_id}",
                "formName": f"Form {task_id}",
                "enabled": True,
                "default": task_id == template_ids[0],
                "modifiedBy": "admin@insurer.example",
                "modifiedDate": self._date(rng),
            },
            "externalLinkData": {
                "linkId": assignment_id * 10 + 1,
                "linkCode": f"LC{assignment_id}",
                "url": f"https://claimx.example/l/LC{assignment_id}",
                "email": f"holder.{assignment_id}@example.com",
                "firstName": "Holder",
                "lastName": f"No{assignment_id}",
                "phone": "5550001111",
            },
        }

    def video_collaborations(self, project_id: int) -> list[dict[str, Any]]:
        """The ``VIDEO_COLLABORATION`` report rows of a project."""
        rng = self._rng("video", project_id)
        return [
            {
                "videoCollaborationId": project_id * 100 + n,
                "claimId": project_id,
                "mfn": f"MFN-{project_id}",
                "claimNumber": f"CLM-{project_id}",
                "policyNumber": f"POL-{project_id}",
                "claimRepFullName": "Rita Rep",
                "numberOfVideos": rng.randrange(5),
                "numberOfPhotos": rng.randrange(20),
                "sessionCount": rng.randrange(1, 4),
                "totalTimeSeconds": round(rng.uniform(30, 3600), 1),
                "createdDate": self._date(rng),
                "companyName": "Example Insurance Co",
            }
            for n in range(1, rng.randrange(2, 4))
        ]
