"""Pure rules for Japanese administrative codes: check digits, 和暦, irregular dates,
kana search keys, 続柄 and the characters stored text may hold.

Nothing here does I/O or touches a database; era rows and other tables are passed in, so
every rule can be tested exhaustively and reused by any module.
"""

from jichitai.platform.jp.checkdigits import (
    atena_check_digit,
    check_juminhyo_code,
    issue_juminhyo_code,
    juminhyo_code_check_digit,
    juminhyo_code_is_valid,
    lg_code_check_digit,
    make_atena_number,
    my_number_check_digit,
    validate_atena_number,
    validate_lg_code,
    validate_my_number,
)
from jichitai.platform.jp.dates import RegisteredDate, display, parse_registered_date
from jichitai.platform.jp.era import (
    DEFAULT_ERAS,
    Era,
    WarekiDate,
    format_wareki,
    parse_date,
    parse_wareki,
    to_wareki,
)
from jichitai.platform.jp.errors import JpValueError
from jichitai.platform.jp.kana import name_search_keys, search_key
from jichitai.platform.jp.relationship import (
    RELATIONSHIP_CODES,
    relationship_codes,
    relationship_order_key,
    validate_relationship,
)
from jichitai.platform.jp.text import (
    INVALID_CHARACTERS,
    MultilineText,
    OptionalMultilineText,
    OptionalStoredText,
    StoredText,
    character_problem,
    check_text,
    refused_character,
)

__all__ = [
    "DEFAULT_ERAS",
    "INVALID_CHARACTERS",
    "RELATIONSHIP_CODES",
    "Era",
    "JpValueError",
    "MultilineText",
    "OptionalMultilineText",
    "OptionalStoredText",
    "RegisteredDate",
    "StoredText",
    "WarekiDate",
    "atena_check_digit",
    "character_problem",
    "check_juminhyo_code",
    "check_text",
    "display",
    "format_wareki",
    "issue_juminhyo_code",
    "juminhyo_code_check_digit",
    "juminhyo_code_is_valid",
    "lg_code_check_digit",
    "make_atena_number",
    "my_number_check_digit",
    "name_search_keys",
    "parse_date",
    "parse_registered_date",
    "parse_wareki",
    "refused_character",
    "relationship_codes",
    "relationship_order_key",
    "search_key",
    "to_wareki",
    "validate_atena_number",
    "validate_lg_code",
    "validate_my_number",
    "validate_relationship",
]
