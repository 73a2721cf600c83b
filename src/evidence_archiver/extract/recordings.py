"""What the call recorders of Chinese Android phones put in a recording's folder and file name.

A phone's own dialer records a call into a file whose name carries the other party's number,
often the contact's name, and the local time the recording started. Each system has its own
layout; :func:`parse_recording_name` reads them (pure: a path in, facts out):

* **MIUI / HyperOS** (Xiaomi, Redmi, POCO): folder ``MIUI/sound_recorder/call_rec/`` (HyperOS
  also ``Android/media/com.miui.voiceassistantsdk/SoundRecorder/call_rec/``); name
  ``张三(13800138000)_20240703140210.mp3``, an unknown caller ``13800138000(13800138000)_…``;
  older MIUI put a prefix and ``@`` in front (``通话录音@张三(13800138000)_…``); ``+`` is
  written ``00``.
* **EMUI / HarmonyOS / MagicOS** (Huawei, Honor): folder ``Sounds/CallRecord/`` (also
  ``HarmonyOS/Sounds/CallRecord/``); name ``13800138000_20240703140210.amr`` or
  ``张三@13800138000_20240703140210.amr``.
* **ColorOS** (OPPO, OnePlus, realme): folder ``Music/Recordings/Call Recordings/`` (older:
  ``Recordings/``, ``PhoneRecord/``); name ``张三-2407031402.mp3`` or
  ``13800138000-2407031402.mp3``: ``yyMMddHHmm``, no seconds.
* **OriginOS / Funtouch** (vivo): folder ``Record/Call/``; no public sample of the name was
  found, so it is read by the generic rule (a number and a ``yyyyMMddHHmmss`` time).

Any other name with a number and a ``yyyyMMddHHmmss`` time (``Call recording +8613812345678_
20240305_142210.m4a``, ``20240305142210_13812345678.amr``) is read by the generic rule. The
extension does not matter (.mp3, .m4a, .amr, .aac, .wav all occur).

Sources (public material, read for the layouts only):

* MIUI's ``miui.util.RecordingNameUtils.generatCallRecordingName`` (decompiled framework in the
  public repositories Liberations/flyme6_devices_base_miui8 and Chevelle/patchrom_d2):
  ``yyyyMMddHHmmss`` in the phone's zone, ``name(number)`` pairs joined by ``_``, an ``@``
  after the prefix, ``+`` replaced by ``00``, ``,`` by ``p`` and ``*`` by ``s``;
* a user's description of MIUI's stock recorder in chenxiaolong/BCR issue #39
  ("contact name/number(number)_YYYYMMDDhhmmss.mp3") and the Russian-locale samples in a public
  recording renamer (``Вызов@Юляшенька Ю(0079397172318)_20231216123836.mp3``);
* bcr-gui's filename templates (nicorac/bcr-gui ``src/app/models/recording.ts``) and its issue
  #100 for ColorOS (``^{contact_name}-{yy}{MM}{dd}{HH}{mm}``, sample ``10987654321-2203021149.mp3``)
  and the Huawei template ``{contact_name}@{phone_number}_{yyyyMMddHHmmss}``;
  kitsumed/ShizuCallRecorder issue #70 for Honor/MagicOS (``Sounds/CallRecord/``,
  ``{phone_number}_{…}`` or ``{caller_name}@{phone_number}_{…}``); the OrderEcho README (Huawei
  nova, ``Sounds/Callrecord/`` ``.amr`` files);
* the folders of each brand as listed by public call-recording uploaders
  (coder-rance ``phone-config.js``: Xiaomi ``MIUI/sound_recorder/call_rec``, Huawei/Honor
  ``Sounds/CallRecord``, vivo ``Record/Call``; a Flutter recorder's ``RecordFileUtil.kt``:
  realme/OPPO ``Music/Recordings/Call Recordings``; ``PhoneRecordFileUtils.kt`` of a sales-call
  app: ``HarmonyOS/Sounds/CallRecord``, HyperOS ``Android/media/com.miui.voiceassistantsdk/
  SoundRecorder/call_rec``).

Times are wall-clock readings of the phone: they become instants only in a zone, the phone's
(Asia/Shanghai unless the caller says otherwise) for these systems' names. A generic name gets an
instant only when the caller gives a zone. A name that matches a layout but holds an impossible
time (month 13) gives the number and a ``problem``, never a guessed time.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath, PureWindowsPath
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..i18n import N_, _
from ..people import default_region, normalize_phone

#: The zone Chinese phones' names are read in unless the caller gives another.
CHINA_ZONE = "Asia/Shanghai"

SYSTEMS = {
    "miui": N_("MIUI/HyperOS (Xiaomi)"),
    "emui": N_("EMUI/HarmonyOS (Huawei, Honor)"),
    "coloros": N_("ColorOS (OPPO, OnePlus, realme)"),
    "vivo": N_("OriginOS/Funtouch (vivo)"),
}

# Folder hints, matched against the lower-cased path with "/" separators.
_FOLDERS = (
    ("miui", re.compile(r"(?:^|/)(?:miui/sound_recorder|soundrecorder)/call_rec(?:/|$)")),
    ("emui", re.compile(r"(?:^|/)sounds/callrecord(?:/|$)")),
    ("coloros", re.compile(r"(?:^|/)(?:recordings/call recordings|phonerecord)(?:/|$)")),
    ("vivo", re.compile(r"(?:^|/)record/call(?:/|$)")),
)

_MIUI = re.compile(
    r"^(?:[^@()]*@)?(?P<who>[^()@]+?)\((?P<num>[^()]*)\)"  # [prefix@]name(number)
    r"(?:_[^()]+\([^()]*\))*"  # more parties of a conference call
    r"_(?P<ts>\d{14})$"
)
_EMUI = re.compile(r"^(?:(?P<who>[^@]+)@)?(?P<num>\+?\d[\d ]{2,24})_(?P<ts>\d{14})$")
_COLOROS = re.compile(r"^(?P<who>.+?)-(?P<ts>\d{10})$")
_GENERIC_TIME = re.compile(
    r"(?<!\d)(20\d{2})[-_.]?(\d{2})[-_.]?(\d{2})[ _T-]?(\d{2})[-_.:]?(\d{2})[-_.:]?(\d{2})(?!\d)"
)
_GENERIC_PHONE = re.compile(r"(?<![\d])(\+?\d[\d ()-]{5,18}\d)(?![\d])")
# What a name must never bring into a title or a display name: path separators, controls.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


@dataclass(frozen=True)
class RecordingName:
    """What a recording's path says. ``local_time`` is the phone's wall clock (naive)."""

    system: str  # "miui", "emui", "coloros", "vivo" or "generic"
    number: str = ""  # normalised (E.164, or a service number's digits)
    raw_number: str = ""  # as the name wrote it
    contact: str = ""  # the contact's name, when the phone knew one
    local_time: datetime | None = None
    #: The name's time is to the second (1) or to the minute (60: ColorOS).
    resolution: int = 1
    problem: str | None = None

    def started(self, zone: str | None) -> datetime | None:
        """The instant recording started, read in ``zone`` (``None`` without a zone or time)."""
        if self.local_time is None or not zone:
            return None
        return self.local_time.replace(tzinfo=ZoneInfo(zone))

    def hint(self, zone: str | None = None) -> dict[str, str | int]:
        """The facts an item keeps in ``details["recording"]`` (derived from the name).

        A generic name keeps the two keys it always had (``local_time``, ``number``).
        """
        facts: dict[str, str | int] = {}
        if self.local_time is not None:
            facts["local_time"] = self.local_time.isoformat()
        if self.number:
            facts["number"] = self.number
        if self.system != "generic":
            facts["system"] = self.system
            if self.raw_number:
                facts["raw_number"] = self.raw_number
            if self.contact:
                facts["contact"] = self.contact
            if self.resolution != 1:
                facts["resolution_seconds"] = self.resolution
        if zone and self.local_time is not None:
            facts["zone"] = zone
        return facts


def check_zone(zone: str) -> str:
    """``zone`` if it names a time zone; raises ``ValueError`` with a plain reason if not."""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            _("unknown time zone {zone}: use a name like Asia/Shanghai").format(zone=repr(zone))
        ) from exc
    return zone


def _parts(path: str) -> tuple[str, str]:
    """``(folder, stem)`` of a path written with / or \\ separators (folder lower-cased)."""
    posix = path.replace("\\", "/") if "/" not in path else path
    name = PurePosixPath(posix).name
    folder = posix[: len(posix) - len(name)].lower()
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    return folder, stem


def _system_of(folder: str) -> str | None:
    for system, pattern in _FOLDERS:
        if pattern.search(folder):
            return system
    return None


def clean_name(text: str) -> str:
    """A contact name from a file name, safe to show: no separators, controls or ``..``."""
    text = unicodedata.normalize("NFC", text)
    text = PureWindowsPath(PurePosixPath(text).name).name if ("/" in text or "\\" in text) else text
    text = _UNSAFE.sub(" ", text).replace("..", " ")
    return " ".join(text.split()).strip(" ._-")[:80]


def _number(raw: str, region: str) -> str:
    """A number as MIUI writes it (``00`` for ``+``, ``p`` for a pause) normalised."""
    text = raw.strip().replace("p", ",").replace("s", "*")
    text = text.split(",", 1)[0]  # digits after a pause are dialled extensions, not the number
    digits = re.sub(r"[\s-]", "", text)
    if not re.fullmatch(r"\+?\d{3,20}", digits):
        return ""
    return normalize_phone(digits, region) or digits


def _time(digits: str, system: str) -> tuple[datetime | None, str | None]:
    fmt = "%y%m%d%H%M" if len(digits) == 10 else "%Y%m%d%H%M%S"
    try:
        return datetime.strptime(digits, fmt), None  # noqa: DTZ007 - a wall-clock reading
    except ValueError:
        if system not in SYSTEMS:
            return None, _(
                "the name holds {text}, which is not a real date and time: kept without a time"
            ).format(text=digits)
        return None, _(
            "the name looks like a {phone} call recording but {digits} is not a real date and "
            "time: kept without a time"
        ).format(phone=_(SYSTEMS[system]), digits=digits)


def _who(who: str, num: str, region: str) -> tuple[str, str, str]:
    """``(number, raw number, contact)`` from a name's two parts; either may be the number."""
    number = _number(num, region)
    if number:
        contact = "" if _number(who, region) else clean_name(who)
        return number, num.strip(), contact
    # "112(Emergency number)": the number first, a label in the parentheses.
    number = _number(who, region)
    return number, who.strip() if number else "", clean_name(num if number else who)


def parse_recording_name(
    path: str, *, region: str | None = None, generic_region: str | None = None
) -> RecordingName | None:
    """The facts in a call recording's path, or ``None`` when it names neither time nor number.

    ``path`` may include the folders it was found in (they tell the system apart where names
    alike). Numbers in these systems' names are read as Chinese (``region``, default ``CN``);
    a generic name's with ``generic_region`` (default: ``EVIDENCE_REGION`` or the locale).

    >>> r = parse_recording_name("call_rec/张三(13800138000)_20240703140210.mp3")
    >>> r.system, r.number, r.contact, r.local_time.isoformat()
    ('miui', '+8613800138000', '张三', '2024-07-03T14:02:10')
    """
    folder, stem = _parts(path)
    hinted = _system_of(folder)
    region = region or "CN"
    miui = _MIUI.match(stem)
    if miui:
        number, raw, contact = _who(miui["who"], miui["num"], region)
        when, problem = _time(miui["ts"], "miui")
        return RecordingName("miui", number, raw, contact, when, 1, problem)
    emui = _EMUI.match(stem)
    if emui:
        number = _number(emui["num"], region)
        when, problem = _time(emui["ts"], "emui")
        system = hinted if hinted in ("emui", "vivo") else "emui"
        contact = clean_name(emui["who"] or "")
        return RecordingName(system, number, emui["num"].strip(), contact, when, 1, problem)
    coloros = _COLOROS.match(stem)
    if coloros and (hinted == "coloros" or _number(coloros["who"], region)):
        who = coloros["who"]
        number = _number(who, region)
        when, problem = _time(coloros["ts"], "coloros")
        contact = "" if number else clean_name(who)
        return RecordingName(
            "coloros", number, who.strip() if number else "", contact, when, 60, problem
        )
    # In a Chinese phone's folder, a name of no known layout still has Chinese numbers.
    return _generic(stem, hinted, region if hinted else generic_region or default_region())


def _generic(stem: str, hinted: str | None, region: str) -> RecordingName | None:
    local: datetime | None = None
    problem = None
    time_match = _GENERIC_TIME.search(stem)
    if time_match:
        try:
            year, month, day, hour, minute, second = (int(g) for g in time_match.groups())
            local = datetime(year, month, day, hour, minute, second)  # noqa: DTZ001
        except ValueError:
            problem = _(
                "the name holds {text}, which is not a real date and time: kept without a time"
            ).format(text=time_match.group(0))
        stem = stem[: time_match.start()] + " " + stem[time_match.end() :]
    number = raw = ""
    for candidate in _GENERIC_PHONE.findall(stem):
        digits = re.sub(r"\D", "", candidate)
        found = normalize_phone(candidate, region) if 5 <= len(digits) <= 15 else None
        if found:
            number, raw = found, candidate
            break
    if local is None and not number and problem is None:
        return None
    system = hinted or "generic"
    return RecordingName(system, number, raw if system != "generic" else "", "", local, 1, problem)


def started_window(name: RecordingName, zone: str | None) -> tuple[datetime, datetime] | None:
    """The instants between which recording started (a minute wide for ColorOS names)."""
    start = name.started(zone)
    if start is None:
        return None
    return start, start + timedelta(seconds=name.resolution)
