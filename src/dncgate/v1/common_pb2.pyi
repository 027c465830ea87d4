from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class Category(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CATEGORY_UNSPECIFIED: _ClassVar[Category]
    CATEGORY_REAL_ESTATE: _ClassVar[Category]
    CATEGORY_FINANCE: _ClassVar[Category]
    CATEGORY_INSURANCE: _ClassVar[Category]
    CATEGORY_EDUCATION: _ClassVar[Category]
    CATEGORY_HEALTH: _ClassVar[Category]
    CATEGORY_TOURISM: _ClassVar[Category]
    CATEGORY_CONSUMER_GOODS: _ClassVar[Category]
    CATEGORY_TELECOM: _ClassVar[Category]
    CATEGORY_OTHER: _ClassVar[Category]

class Source(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SOURCE_UNSPECIFIED: _ClassVar[Source]
    SOURCE_APP: _ClassVar[Source]
    SOURCE_HOTLINE: _ClassVar[Source]
    SOURCE_IN_CALL: _ClassVar[Source]
    SOURCE_NATIONAL_REGISTRY: _ClassVar[Source]
    SOURCE_ADMIN: _ClassVar[Source]

class Mode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODE_UNSPECIFIED: _ClassVar[Mode]
    MODE_ENFORCE: _ClassVar[Mode]
    MODE_MONITOR: _ClassVar[Mode]
CATEGORY_UNSPECIFIED: Category
CATEGORY_REAL_ESTATE: Category
CATEGORY_FINANCE: Category
CATEGORY_INSURANCE: Category
CATEGORY_EDUCATION: Category
CATEGORY_HEALTH: Category
CATEGORY_TOURISM: Category
CATEGORY_CONSUMER_GOODS: Category
CATEGORY_TELECOM: Category
CATEGORY_OTHER: Category
SOURCE_UNSPECIFIED: Source
SOURCE_APP: Source
SOURCE_HOTLINE: Source
SOURCE_IN_CALL: Source
SOURCE_NATIONAL_REGISTRY: Source
SOURCE_ADMIN: Source
MODE_UNSPECIFIED: Mode
MODE_ENFORCE: Mode
MODE_MONITOR: Mode
