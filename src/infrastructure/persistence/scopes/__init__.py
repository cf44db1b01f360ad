"""Each context's repositories on a unit of work's session: the bases of ``SqlAlchemyUnitOfWork``.

One mixin per context (``ChatRepositories``, ...). A mixin imports its repositories (and so their
models and statements) the first time a unit of work asks for one: a command that reads users never
loads the chat or knowledge code. A new context adds its module here and one base to the unit of
work.
"""
