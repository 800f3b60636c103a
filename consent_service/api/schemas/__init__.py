"""The API's marshmallow schemas: ``common`` (base class, shared validators and pieces) and
one module per resource, named like the view module that uses it (``api/<resource>.py`` imports
``api/schemas/<resource>.py``). No schema class is defined in a view module."""
